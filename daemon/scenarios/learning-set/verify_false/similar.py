# ruff: noqa
import requests


def post_event(session, url, body):
    return session.post(url, json=body, verify=False)  # expect: verify_false


def download(url):
    return requests.request("GET", url, verify=False).content  # expect: verify_false
