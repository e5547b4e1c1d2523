# ruff: noqa
import requests


def fetch_status(url):
    response = requests.get(url, verify=False, timeout=5)
    return response.status_code
