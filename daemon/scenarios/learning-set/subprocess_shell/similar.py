# ruff: noqa
import subprocess
from subprocess import Popen


def list_directory(directory):
    return subprocess.check_output("ls -l " + directory, shell=True)  # expect: subprocess_shell


def start_server(port):
    return Popen(f"python -m http.server {port}", shell=True)  # expect: subprocess_shell
