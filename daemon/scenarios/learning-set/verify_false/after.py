# ruff: noqa
import requests


def fetch_status(url):
    response = requests.get(url, timeout=5)  # learned: verify_false
    return response.status_code
