# ruff: noqa
import subprocess


def archive(source, destination):
    command = f"tar czf {destination} {source}"
    subprocess.run(command, shell=True, check=True)
    return destination
