"""What the tests, the demo and the benchmarks share to drive the real bot on the emulator.

* `testing.local`: settings for a bot talking to the local emulator (`local_settings`).
* `testing.scripts`: scripted people, the steps a resident or an official takes.
* `testing.commune`: the tests' small commune (its people, a linked sector group, a member,
  a referent) and the helpers built on it.
* `testing.fences`: waits on a state rather than on time: every update handled, the outbox
  with nothing due, an outbox row settled, an async condition true.

(`testing.permission_matrix` is reserved for the end-to-end permission matrix engine.)
Nothing in core/, handlers/ or storage/ may import this package.
"""
