# ruff: noqa
import subprocess

run_shell = True


def list_directory(directory):
    return subprocess.run(["ls", "-l", directory], shell=False)  # expect: none


def compile_all(paths):
    return subprocess.check_call(["python", "-m", "compileall", *paths])  # expect: none


def describe(shell=True):
    return "shell" if shell else "exec"  # expect: none
