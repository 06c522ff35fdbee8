"""Shipped files, installed as the package data `explorer.assets`: the digits twin and the papers' numbers."""
