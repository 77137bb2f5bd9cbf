// Package console serves the operator console at /console: one page with
// embedded assets (no external requests), in English and Italian, for the
// team that answers handed-off conversations and for the data protection
// officer. The page holds no data of its own: it calls the admin API's JSON
// routes under /admin/v1 (the hand-off queue, transcripts, replies,
// hand-backs; export, erase, rectify; the audit log), which authenticate
// and authorize every request, audit it, and refuse what the caller's role
// does not allow. The page sends the X-CSRF-Token header with the value of
// the parley_csrf cookie on every POST, and goes to /console/login when a
// route answers 401.
package console
