"""Recorded interviews: reading recordings and transcribing them offline.

Pure: no database, no services. ``probe`` checks a recording and describes it;
``model`` assembles the default Whisper model into the user cache;
``transcribe`` turns a recording into a :class:`~chimeqda.model.ParsedDocument`
with times, words and speaker turns. The heavy dependencies (faster-whisper,
PyAV) come with the ``audio`` extra and are imported only when used.
"""

RECORDING_SUFFIXES: frozenset[str] = frozenset(
    {".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".webm", ".mp4"}
)
