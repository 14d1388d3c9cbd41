"""Maps the root folders compiler/, runtime/ and dml_lib/ onto kerasdml.compiler,
kerasdml.runtime and kerasdml.dml_lib (metadata lives in pyproject.toml), and builds the
local runtime's native kernels (runtime/local/native/). They are optional: without a C
compiler the install still succeeds and the numpy kernels do all the work."""
from glob import glob

from setuptools import Extension, find_namespace_packages, setup

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
    sources=["runtime/local/native/kernels.c"],
    depends=sorted(glob("runtime/local/native/*.h")),
    # -O3 for the vector loops; the CPU-specific versions come from target_clones in the source
    extra_compile_args=["-O3", "-Wno-psabi"],
    libraries=["m"],       # erf and exp of the GELU kernels
    optional=True,
)

setup(packages=packages, package_dir=package_dir, ext_modules=[native_kernels])
