# ruff: noqa
import random


def backoff(attempt):
    delay = random.uniform(0.1, 0.5) * attempt  # expect: none
    return delay


def deal(cards):
    random.shuffle(cards)  # expect: none
    return random.sample(cards, 5)  # expect: none
