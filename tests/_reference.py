"""Plain NumPy reference implementations that the package's fast code is tested against.

Each block below is the obvious, slow formula for one kernel or estimator; tests compare the
package on random inputs (hypothesis) against these.
"""

import numpy as np  # noqa: F401
