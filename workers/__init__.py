"""arq workers. Workers import the app; the app never imports workers."""
