"""Ready workflows for the `run` binary (``--config=formed/workflow/configs/<name>.py``)."""
