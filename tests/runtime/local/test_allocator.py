"""The runtime keeps freed temporaries in the heap while it runs and gives them back after a long
run (runtime/local/allocator.py). Each case runs in a fresh interpreter: the allocator's settings
belong to the process."""
import json
import os
import subprocess
import sys

import pytest

from kerasdml.runtime.local import allocator

pytestmark = pytest.mark.skipif(allocator._glibc() is None, reason="glibc's allocator only")

# A step's worth of temporaries (fifty 2 MB blocks, below the size numpy asks huge pages for)
# allocated and freed twelve times.
STEPS = """
import json, resource
import numpy as np
from kerasdml.runtime.local.allocator import runtime_memory
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with runtime_memory():
    before = faults()
    for _ in range(12):
        blocks = [np.ones(2 << 17) for _ in range(50)]
        del blocks
    print(json.dumps(faults() - before))
"""


def _run(script: str, **environment) -> object:
    env = {**os.environ, **environment}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_freed_temporaries_are_not_faulted_in_again_each_step():
    pages_per_step = 50 * (2 << 20) // 4096
    default = _run(STEPS, KERASDML_MALLOC="default")
    kept = _run(STEPS)
    assert default > 6 * pages_per_step      # glibc alone gives them back every step
    assert kept < 2 * pages_per_step         # faulted in once, reused after


# 300 MB allocated and freed inside a run; the resident size inside it, right after it, and
# once the process has been idle for a while
AFTER_A_RUN = """
import json, time
import numpy as np
from kerasdml.runtime.local import allocator
def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
allocator.IDLE_SECONDS = {idle}
with allocator.runtime_memory():
    blocks = [np.ones(10 << 17) for _ in range(30)]
    del blocks
    inside = resident_mb()
after = resident_mb()
with allocator.runtime_memory():        # a run that follows at once reuses the memory
    blocks = [np.ones(10 << 17) for _ in range(30)]
    del blocks
time.sleep({sleep})
print(json.dumps([inside, after, resident_mb()]))
"""


def test_an_idle_process_gives_the_runs_free_memory_back():
    inside, after, idle = _run(AFTER_A_RUN.format(idle=0.5, sleep=2.0))
    assert inside > 250 and inside - after < 20       # kept for the next run
    assert inside - idle > 200                        # back to the system once idle


def test_runs_that_follow_each_other_keep_their_free_memory():
    inside, after, idle = _run(AFTER_A_RUN.format(idle=3600.0, sleep=0.5))
    assert inside > 250 and inside - after < 20 and inside - idle < 20


def test_a_forked_child_trims_its_own_memory():
    script = AFTER_A_RUN.replace("time.sleep({sleep})", """import os
pid = os.fork()
if pid == 0:
    with allocator.runtime_memory():
        pass
    time.sleep({sleep})
    os._exit(0 if resident_mb() < after - 200 else 1)
_, status = os.waitpid(pid, 0)
print(json.dumps(os.waitstatus_to_exitcode(status)))
raise SystemExit""")
    assert _run(script.format(idle=0.5, sleep=2.0)) == 0
