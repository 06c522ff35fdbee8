"""Package discovery for `pip install .` (the metadata is in pyproject.toml).

Every package under explorer/ is found automatically. Two folders that the product card fixes at the top level
install under other names (pyproject.toml's package-dir): assets/ as `explorer.assets`, and the app
(streamlit_app.py, pages/, .streamlit/config.toml) as `explorer_app`, laid out as in a checkout so that
`resnet-explorer app` runs the same files from any folder.
"""
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

APP_MODULES = {"streamlit_app"}  # explorer_app is the repository's root folder: take only the entry script from it


class BuildPy(build_py):
    """build_py that takes only the entry script from the root folder (not this setup.py)."""

    def find_package_modules(self, package: str, package_dir: str) -> list:
        found = super().find_package_modules(package, package_dir)
        return [m for m in found if package != "explorer_app" or m[1] in APP_MODULES]


setup(
    packages=[*find_packages(include=["explorer", "explorer.*"]),
              "explorer.assets", "explorer_app", "explorer_app.pages"],
    cmdclass={"build_py": BuildPy},
)
