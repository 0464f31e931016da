"""The demo stream's generators: one module per source district, one for the illustrative districts.

Each district module has ``events(seed, cal, ...)``, the district's events in
order from its own seeded :class:`~demo.generators.section.Section`, and
``planned_counts(...)``, how many of each type that makes (the same for every
seed and year). :mod:`demo.generators.records` builds the events every district
shares (cases and visits, evaluations, services, trainings, certifications,
funding, volunteers). :mod:`demo.stream` runs them in order.
"""
