"""The notebook experience: magics, rich display, DataFrame in and out, widgets.

Nothing here is imported by ``import fastscore_sdk``, and nothing registers itself at import:
``%load_ext fastscore_sdk`` loads :mod:`.magics`. The modules:

* :mod:`.magics`: ``%%schema``, ``%%stream``, ``%%model`` and ``%fastscore`` (IPython, traitlets);
* :mod:`.display`: HTML and text views of engines and errors;
* :mod:`.frames`: ``from_pandas`` (a DataFrame as an input stream) and ``collect`` (an output stream
  read back as a DataFrame), behind ``fs.Stream.from_pandas`` and ``fs.Stream.collect``;
* :mod:`.widgets`: a live engine monitor and a stream-descriptor builder (ipywidgets, with text
  fallbacks);
* :mod:`.services`: the servers the tutorial notebooks use (from :mod:`fastscore_sdk.testing`).
"""
