# ruff: noqa
import requests

ssl_verify = False


def fetch(url, bundle):
    first = requests.get(url, verify=True)  # expect: none
    second = requests.get(url, verify=bundle)  # expect: none
    return first, second


def fetch_default(url):
    return requests.get(url, verify=None)  # expect: none
