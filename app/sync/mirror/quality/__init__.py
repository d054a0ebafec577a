"""The data-quality list: what in a school's MIS data an admin should fix in their MIS, one entry per
record, each with a code from ``codes.IssueCode`` and that code's sentence."""
