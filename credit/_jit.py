"""One lock for the compiled parallel kernels of `credit`.

numba's default threading layer (workqueue) runs one parallel launch at a time and is not
thread-safe, while the web server and the stress runner call the core from several threads.
Every compile and every launch of a ``parallel=True`` kernel therefore holds this lock; each
launch already uses every core, so serialising launches costs nothing in throughput.
"""

from __future__ import annotations

import threading

PARALLEL_LOCK = threading.RLock()
