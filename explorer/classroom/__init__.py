"""The classroom: classes with join codes, members, the teacher's live roster, predict-then-observe questions,
each student's own seed for Figure 6 and the class's runs for the class chart, the lesson a class follows.

The public API below is imported here; the rest from its module.
"""
from .classes import Classroom
from .records import ClassError, ClassInfo

__all__ = [
    "ClassError",
    "ClassInfo",
    "Classroom",
]
