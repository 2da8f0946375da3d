"""The media type of the endpoints' answers."""

from typing import Annotated, TypeVar

from bentoml.validators import ContentType

_T = TypeVar("_T")

#: The return type of an endpoint answering a JSON list or dict: ``JSON[list[RiskResult]]``.
#: BentoML 1.4 works out such an answer's media type by generating its JSON schema on every
#: response (``IOMixin.mime_type``), which took 23% of the gateway's time under
#: classification load; naming the media type skips it (the schema itself is unchanged).
#: (Not in the package's ``__init__``: ``services.http.launch`` starts the server without
#: importing BentoML.)
JSON = Annotated[_T, ContentType("application/json")]
