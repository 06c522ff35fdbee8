"""The classroom: classes with join codes, members, the teacher's live roster, predict-then-observe questions,
each student's own seed for Figure 6 and the class's runs for the class chart, the lesson a class follows.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'tables': 'tables', 'ensure_tables': 'tables',
    'records': 'records', 'ClassError': 'records', 'ClassInfo': 'records', 'Member': 'records',
    'RosterRow': 'records', 'Question': 'records', 'Tally': 'records',
    'classes': 'classes', 'Classroom': 'classes', 'student_seed': 'classes', 'seeded_spec': 'classes',
    'clean_code': 'classes', 'clean_name': 'classes', 'member_id': 'classes',
    'questions': 'questions', 'open_question': 'questions', 'answer': 'questions', 'tally': 'questions',
    'reveal': 'questions', 'pending_question': 'questions', 'class_questions': 'questions',
    'lessons': 'lessons', 'LESSONS': 'lessons', 'Lesson': 'lessons', 'Check': 'lessons', 'lesson': 'lessons',
    'my_answer': 'questions', 'latest_question': 'questions', 'GATED_KINDS': 'questions',
    'lesson_question': 'questions', 'lesson_question_id': 'questions', 'lesson_tallies': 'questions',
})
