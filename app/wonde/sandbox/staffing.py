"""The staff of a generated school: who teaches each class and who tutors each form.

A primary class teacher teaches their own form (and is its tutor), sometimes sharing the class with a
job-share partner. A secondary has a department per subject whose teachers take about six classes
each, now and then two to a class, and every form has a tutor, from the departments first. Every
school also has a head teacher and a few staff who teach no class. Drawn from the generator's own
seeded stream after the pupils, so adding staff left every pupil, class and group as it was.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import datetime, timedelta

from app.wonde.sandbox.records import Employee, SandboxSchool, Subject
from app.wonde.sandbox.staff import add_teacher, new_employee

CLASSES_PER_TEACHER = 6
PRIMARY_CO_TEACHER_RATE = 0.15
SECONDARY_CO_TEACHER_RATE = 0.10
STAFF_WITHOUT_CLASSES = 3  # the head teacher, a SENCo, an office manager: on the staff list, no classes
SUBJECT_NAMES = {"Maths": ("MA", "Mathematics"), "English": ("EN", "English"), "Science": ("SC", "Science")}


def add_subjects(school: SandboxSchool, ids: dict[str, str], connected: datetime) -> None:
    """Subject records for the subjects the classes use (ids drawn earlier, so nothing else moves)."""
    used = {record.subject for record in school.classes.values()}
    for number, (name, subject_id) in enumerate(sorted(ids.items()), start=1):
        if subject_id in used:
            code, full_name = SUBJECT_NAMES.get(name, (name[:2].upper(), name))
            school.subjects[subject_id] = Subject(subject_id, str(number), code, full_name, connected, connected)


class Staffing:
    def __init__(self, school: SandboxSchool, rng: random.Random, connected: datetime, term_start: datetime) -> None:
        self.school, self.rng = school, rng
        self.connected, self.term_start = connected, term_start

    def hire(self) -> Employee:
        span = max(1, int((self.term_start - self.connected).total_seconds()))
        created = self.connected + timedelta(seconds=self.rng.randrange(span))
        updated = self.term_start + timedelta(seconds=self.rng.randrange(36 * 3600))
        employee = new_employee(self.school, self.rng, created, updated)
        self.school.employees[employee.id] = employee
        return employee

    def staff(self, phase: str) -> None:
        if phase == "primary":
            self._primary()
        else:
            self._secondary()
        for _ in range(STAFF_WITHOUT_CLASSES):
            self.hire()

    def _primary(self) -> None:
        school = self.school
        teachers: dict[str, str] = {}
        for record in sorted(school.classes.values(), key=lambda c: (c.year or 0, c.name)):
            teachers[record.name] = teacher = self.hire().id
            add_teacher(school, record.id, teacher, main=True)
            if self.rng.random() < PRIMARY_CO_TEACHER_RATE:
                add_teacher(school, record.id, self.hire().id, main=False)
        for form in self._forms():
            school.group_staff.add(form, teachers.get(school.groups[form].name) or self.hire().id)

    def _secondary(self) -> None:
        school = self.school
        by_subject: defaultdict[str | None, list[str]] = defaultdict(list)
        for record in sorted(school.classes.values(), key=lambda c: (c.year or 0, c.name)):
            by_subject[record.subject].append(record.id)
        everyone: list[str] = []
        for subject in sorted(by_subject, key=lambda s: s or ""):
            classes = by_subject[subject]
            department = [self.hire().id for _ in range(math.ceil(len(classes) / CLASSES_PER_TEACHER))]
            everyone += department
            order = self.rng.sample(department, k=len(department))
            for i, class_id in enumerate(classes):
                main = order[i % len(order)]
                add_teacher(school, class_id, main, main=True)
                if len(department) > 1 and self.rng.random() < SECONDARY_CO_TEACHER_RATE:
                    add_teacher(school, class_id, self.rng.choice([t for t in department if t != main]), main=False)
        tutors = self.rng.sample(everyone, k=len(everyone))
        for form in self._forms():
            school.group_staff.add(form, tutors.pop() if tutors else self.hire().id)

    def _forms(self) -> list[str]:
        forms = [group for group in self.school.groups.values() if group.type == "REGISTRATION"]
        return [group.id for group in sorted(forms, key=lambda g: (g.year or 0, g.name))]
