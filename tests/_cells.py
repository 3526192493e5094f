"""One cell of a rate study, for tests that look at single records."""

from kdtheory.montecarlo import run_cell
from kdtheory.spec import StudySpec


def one_cell(example, params, n, replication, seed):
    """The records of cell (n, replication) of a study of ``example`` with this seed."""
    spec = StudySpec.create(example, params, sample_sizes=(n, 2 * n),
                            n_replications=replication + 2, seed=seed)
    return run_cell(spec, n, replication)
