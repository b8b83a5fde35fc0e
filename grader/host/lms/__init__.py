"""The LMS round trip: the course platform's own download in, its gradebook's own import out.

| module | step | what it knows |
|---|---|---|
| `layouts` | prepare | how each platform names a download's files and folders, and who handed in what |
| `roster` | prepare | each platform's gradebook export, read as it is, as the course's students |
| `matching` | publish | which rostered student a submission is, never guessed when two could be |

Each platform's gradebook import file is a report like the others: `host/publish/lms.py`.
Everything here is host code: names and rosters are data, and a student's file name can
only ever choose which row their own grade lands in.
"""
