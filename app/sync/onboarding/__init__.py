"""The uploader (the admin's one-off choices, class by class) and the merge that carries them out."""
