"""Maps the root folders compiler/, runtime/ and dml_lib/ onto kerasdml.compiler,
kerasdml.runtime and kerasdml.dml_lib (metadata lives in pyproject.toml), and builds the
local runtime's native kernels (runtime/local/native/). They are optional: without a C
compiler the install still succeeds and the numpy kernels do all the work."""
from concurrent.futures import ThreadPoolExecutor
from glob import glob

from setuptools import Extension, find_namespace_packages, setup
from setuptools.command.build_ext import build_ext

ROOT_FOLDERS = ("compiler", "runtime", "dml_lib")

packages, package_dir = [], {}
for folder in ROOT_FOLDERS:
    name = f"kerasdml.{folder}"
    package_dir[name] = folder
    packages.append(name)
    for sub in find_namespace_packages(where=folder, exclude=["*__pycache__*", "*native*"]):
        packages.append(f"{name}.{sub}")
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

native_kernels = Extension(
    "kerasdml.runtime.local._kernels",
    # one translation unit per element type, compiled at once (ParallelBuildExt)
    sources=["runtime/local/native/kernels.c", "runtime/local/native/kernels_f64.c"],
    depends=sorted(glob("runtime/local/native/*.h")),
    # -O3 for the vector loops; the CPU-specific versions come from target_clones in the source;
    # -g0: no debug information (Python's flags ask for it), which took half of the build's time
    extra_compile_args=["-O3", "-g0", "-Wno-psabi"],
    libraries=["m"],       # erf and exp of the GELU kernels
    optional=True,
)


class ParallelBuildExt(build_ext):
    """Compiles an extension's C files in parallel, one compiler process each: the kernels'
    target clones take minutes per file, and setuptools would compile them one after the
    other."""

    def build_extension(self, ext):
        compile_one = self.compiler.compile

        def compile_all(sources, *args, **kwargs):
            with ThreadPoolExecutor(max(len(sources), 1)) as pool:
                parts = list(pool.map(lambda source: compile_one([source], *args, **kwargs),
                                      sources))
            return [obj for part in parts for obj in part]
        self.compiler.compile = compile_all
        try:
            super().build_extension(ext)
        finally:
            del self.compiler.compile


setup(packages=packages, package_dir=package_dir, ext_modules=[native_kernels],
      cmdclass={"build_ext": ParallelBuildExt})
