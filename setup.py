"""Maps the root folders compiler/, runtime/ and dml_lib/ onto kerasdml.compiler,
kerasdml.runtime and kerasdml.dml_lib (metadata lives in pyproject.toml)."""
from setuptools import find_namespace_packages, setup

ROOT_FOLDERS = ("compiler", "runtime", "dml_lib")

packages, package_dir = [], {}
for folder in ROOT_FOLDERS:
    name = f"kerasdml.{folder}"
    package_dir[name] = folder
    packages.append(name)
    for sub in find_namespace_packages(where=folder, exclude=["*__pycache__*"]):
        packages.append(f"{name}.{sub}")
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
