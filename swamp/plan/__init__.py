"""`swamp queue plan`: what a change to the repository would do, for review.

It compares the queue and the definitions on disk with a base revision: the
items the change adds, removes (purges) or changes, each validated and shown
as the steps it will run (arguments rendered as far as they can be before the
run, secrets masked), and the definitions the change alters under items that
are queued.

`compute` makes the Plan; `render` shows it as text, Markdown (a pull
request's step summary) or JSON.
"""
