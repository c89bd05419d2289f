"""Development tools of a source checkout: the demo centre's seed (``gjj seed``) and the
one-command demo (``gjj demo``). Installed by the editable install (``make install``), never in
the production wheel or image; production code does not import it (an import contract checks)."""
