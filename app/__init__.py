"""bandsync: keeps an education app's bands and pupil accounts in step with each school's MIS."""
