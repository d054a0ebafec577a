"""Login details: the passwords a run gave (a merge's or a sync's new accounts, a band's reissued passwords),
for the admin to download, whole or per band, as often as needed, then confirm once handed out."""
