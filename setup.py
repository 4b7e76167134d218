"""Kept for ``scrapyd-deploy``, which builds an egg with ``python setup.py bdist_egg``.

All metadata lives in pyproject.toml.
"""
from setuptools import setup

setup()
