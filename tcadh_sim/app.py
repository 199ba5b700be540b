"""The ASGI application: cloud endpoints, command channel, live FLV and HLS streams and,
optionally, the control API."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from . import control, http_api
from .channel import CHANNEL_PATH, command_channel
from .clock import Clock
from .config import SimConfig
from .runtime import Simulator
from .state import SessionStore

VIDEO_SIZE = (640, 360)
VIDEO_FPS = 15

# The gateway is called straight from web pages on any origin (Tencent's Web SDK sends
# `Content-Type: application/json` and a `Language` header, so every call is preflighted), and
# its players fetch the live streams cross-origin too. This middleware is the one place that
# decides Access-Control-Allow-Origin, for the API and the streams alike: a second copy of the
# header makes Chromium refuse the video. Private-network preflights are answered so a page
# served from a public origin can reach a simulator on the local machine.
CORS = Middleware(
    CORSMiddleware,
    allow_origins=["*"],
    allow_methods=["GET", "POST"],
    allow_headers=["*"],
    allow_private_network=True,
    max_age=600,
)


async def live_stream(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    return sim.hub.flv_response(request.path_params["session_id"])


async def hls_playlist(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    return await sim.hub.hls_playlist(request.path_params["session_id"])


async def hls_segment(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    return sim.hub.hls_segment(request.path_params["session_id"], request.path_params["segment"])


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"service": "tcadh_sim", "ok": True})


def create_app(config: SimConfig | None = None, hub: Any = None, clock: Clock | None = None) -> Starlette:
    """Build the simulator. `hub` defaults to the real video encoder of `tcadh_sim.media`."""
    config = config or SimConfig()
    clock = clock or Clock()
    if hub is None:
        from .media import StreamHub

        hub = StreamHub(width=VIDEO_SIZE[0], height=VIDEO_SIZE[1], fps=VIDEO_FPS)
    sim = Simulator(config=config, clock=clock, hub=hub, store=SessionStore(config, hub, clock))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sim.store.reset()
        await hub.aclose()

    route_list: list[BaseRoute] = [
        *http_api.routes(),
        WebSocketRoute(CHANNEL_PATH, command_channel),
        Route("/live/{session_id}.flv", live_stream, methods=["GET"]),
        Route("/live/{session_id}.m3u8", hls_playlist, methods=["GET"]),
        Route("/live/{session_id}/{segment}", hls_segment, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    if config.control_enabled:
        route_list += control.routes()
    app = Starlette(routes=route_list, lifespan=lifespan, middleware=[CORS])
    app.state.sim = sim
    return app
