# ruff: noqa
import subprocess


def archive(source, destination):
    command = ["tar", "czf", destination, source]
    subprocess.run(command, check=True)  # learned: subprocess_shell
    return destination
