"""LTI 1.3: launch ResNet Explorer from an LMS course (Canvas, Moodle), and read the course's roster.

`python -m explorer lti` serves the tool's endpoints (`app`) beside the Streamlit app; a launch is verified with
pylti1p3 (`tool`), finds or makes the course's class and hands the person to the app with a one-time ticket
(explorer.classroom.lti_courses); `roster` reads the course's members from the LMS (NRPS); `settings` holds the
registrations and the tool's key. Import the modules themselves: this package imports nothing, so the library
loads without the LTI dependencies.
"""
