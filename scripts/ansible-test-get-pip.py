"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test runs this file as __main__ inside a fresh venv with pip's command
line (``pip==X --no-setuptools --no-wheel``). The CI machine reaches PyPI but
not ci-files.testing.ansible.com, so bootstrap pip with ensurepip and let it
install the requested version from the configured index.
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
# ensurepip brings setuptools on 3.11; honour --no-setuptools like get-pip does.
if "--no-setuptools" in sys.argv:
    subprocess.call([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"])
