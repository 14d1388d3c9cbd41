"""Fixtures the local runtime's kernel tests share."""
import pytest

from kerasdml.runtime.local import native


@pytest.fixture(params=["numpy", "native"])
def kernels(request):
    """Runs a test once on the numpy kernels and once on the native ones (skipped where the
    native library is not built); a module takes it for every test with
    `pytestmark = pytest.mark.usefixtures("kernels")`."""
    if request.param == "native" and not native.available():
        pytest.skip("the native kernels are not built")
    with native.use(request.param == "native"):
        yield request.param
