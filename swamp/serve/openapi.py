"""The OpenAPI 3.1 document of the native and Mender-compatible API,
written by hand (Starlette has no generator, and hand-written says exactly
what is promised)."""

from __future__ import annotations

from typing import Any

from swamp import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "bad request: the body or the inputs",
        401: "no valid bearer token",
        403: "swamp.yaml does not allow it",
        404: "not found",
        409: "refused by a check (state, definitions, freeze)",
        503: "shutting down",
    }
    return {str(c): _json(_ERROR, text[c]) for c in codes}


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _action(summary: str, body: dict[str, Any] | None, ok: int) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": _BEARER,
        "parameters": [_path("run", "the run's id, or a unique part of it")],
        "responses": {
            str(ok): _json({"type": "object"}, "done or accepted"),
            **_errors(400, 401, 404, 409, 503),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {"post": op}


def document() -> dict[str, Any]:
    start_body = {
        "type": "object",
        "properties": {"inputs": {"type": "object", "description": "the run's inputs"}},
    }
    start = {
        "summary": "Start a run (allowed by swamp.yaml serve.allowStart); journaled before 201",
        "security": _BEARER,
        "requestBody": {"content": {"application/json": {"schema": start_body}}},
        "responses": {
            "201": _json({"$ref": "#/components/schemas/Accepted"}, "accepted"),
            **_errors(400, 401, 403, 404, 409, 503),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "swamp serve",
            "version": __version__,
            "description": "swamp's native API (plural resources) and Mender's workflows API "
            "(singular: workflow, jobs, metadata). Mutating routes need a bearer token.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Accepted": {
                    "type": "object",
                    "required": ["run", "state", "by"],
                    "properties": {
                        "run": {"type": "string"},
                        "state": {"const": "accepted"},
                        "by": {"type": "string"},
                    },
                },
                "QueueItem": {
                    "type": "object",
                    "required": ["id", "kind", "target", "inputs", "state", "file"],
                    "properties": {
                        k: {"type": t}
                        for k, t in {
                            "id": "string",
                            "kind": "string",
                            "target": "string",
                            "inputs": "object",
                            "state": "string",
                            "detail": "string",
                            "requestedBy": ["string", "null"],
                            "requestedAt": ["string", "null"],
                            "note": ["string", "null"],
                            "run": ["string", "null"],
                            "file": "string",
                        }.items()
                    },
                },
                "RunRow": {
                    "type": "object",
                    "required": ["run", "state", "kind", "target", "created", "by"],
                    "properties": {
                        k: {"type": t}
                        for k, t in {
                            "run": "string",
                            "state": "string",
                            "kind": "string",
                            "target": "string",
                            "created": "string",
                            "updated": "string",
                            "by": "string",
                            "item": ["string", "null"],
                        }.items()
                    },
                },
                "MenderJob": {
                    "type": "object",
                    "required": ["id", "workflowName", "inputParameters", "status", "results"],
                    "properties": {
                        "id": {"type": "string"},
                        "workflowName": {"type": "string"},
                        "inputParameters": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "value": {"type": "string"},
                                },
                            },
                        },
                        "status": {"enum": ["pending", "processing", "done", "failed"]},
                        "results": {"type": ["array", "null"], "items": {"type": "object"}},
                        "insert_time": {"type": "string"},
                        "version": {"type": "string"},
                    },
                },
            },
        },
        "paths": {
            "/api/v1/queue": {
                "get": {
                    "summary": "Queue items, as `swamp queue list --json`",
                    "parameters": [
                        {"name": "done", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/QueueItem"},
                                    },
                                    "unreadable": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                            "the queue",
                        )
                    },
                }
            },
            "/api/v1/runs": {
                "get": {
                    "summary": "Runs, oldest first, with the filters of `swamp run list`",
                    "parameters": [
                        {"name": n, "in": "query", "schema": {"type": "string"}}
                        for n in ("state", "workflow", "since")
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "runs": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/RunRow"},
                                    }
                                },
                            },
                            "the runs",
                        ),
                        **_errors(400),
                    },
                }
            },
            "/api/v1/runs/{run}": {
                "get": {
                    "summary": "A run: jobs, steps, states, outputs (secrets masked)",
                    "parameters": [_path("run", "the run's id, or a unique part of it")],
                    "responses": {
                        "200": _json({"type": "object"}, "the run"),
                        **_errors(404),
                    },
                }
            },
            "/api/v1/runs/{run}/events": {
                "get": {
                    "summary": "The run's journal events as Server-Sent Events, ending "
                    "with an `end` event when the run is at rest",
                    "parameters": [_path("run", "the run's id, or a unique part of it")],
                    "responses": {
                        "200": {
                            "description": "event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **_errors(404),
                    },
                }
            },
            "/api/v1/runs/{run}/release": _action(
                "Release a held job and continue the run",
                {"type": "object", "required": ["job"], "properties": {"job": {"type": "string"}}},
                202,
            ),
            "/api/v1/runs/{run}/pause": _action("Pause after the steps in flight", None, 200),
            "/api/v1/runs/{run}/stop": _action("Stop the run", None, 200),
            "/api/v1/runs/{run}/resume": _action(
                "Continue the run (rerunUnknown: run again the steps cut off mid-flight)",
                {"type": "object", "properties": {"rerunUnknown": {"type": "boolean"}}},
                202,
            ),
            "/api/v1/runs/{run}/retry": _action(
                "Re-run from a step",
                {
                    "type": "object",
                    "required": ["step"],
                    "properties": {"step": {"type": "string"}, "job": {"type": "string"}},
                },
                202,
            ),
            "/api/v1/workflows/{name}/runs": {
                "post": {**start, "parameters": [_path("name", "the workflow")]}
            },
            "/api/v1/methods/{model}/{method}/runs": {
                "post": {
                    **start,
                    "parameters": [_path("model", "the model"), _path("method", "its method")],
                }
            },
            "/api/v1/ready": {
                "get": {
                    "summary": "Readiness: definitions load, restart recovery done",
                    "responses": {
                        "200": _json({"type": "object"}, "ready"),
                        "503": _json({"type": "object"}, "not ready, with the problems"),
                    },
                }
            },
            "/api/v1/health": {
                "get": {
                    "summary": "Liveness (Mender's health check)",
                    "responses": {"204": {"description": "alive"}, **_errors(503)},
                }
            },
            "/status": {
                "get": {
                    "summary": "Mender's status",
                    "responses": {"200": _json({"type": "object"}, '{"status": "ok"}')},
                }
            },
            "/api/v1/workflow/{name}": {
                "post": {
                    "summary": "Mender: start a workflow with a JSON object of inputs",
                    "security": _BEARER,
                    "parameters": [_path("name", "the workflow")],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {
                        "201": _json(
                            {
                                "type": "object",
                                "required": ["id", "name"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            },
                            "started",
                        ),
                        **_errors(400, 401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/workflow/{name}/batch": {
                "post": {
                    "summary": "Mender: start a workflow once per object of a JSON array",
                    "security": _BEARER,
                    "parameters": [_path("name", "the workflow")],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"type": "object"}}
                            }
                        },
                    },
                    "responses": {
                        "201": _json({"type": "array", "items": {"type": "object"}}, "started"),
                        **_errors(400, 401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/workflow/{name}/{id}": {
                "get": {
                    "summary": "Mender: a job of a workflow",
                    "parameters": [_path("name", "the workflow"), _path("id", "the job")],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/MenderJob"}, "the job"),
                        **_errors(404),
                    },
                }
            },
            "/api/v1/jobs/{id}": {
                "get": {
                    "summary": "Mender: a job",
                    "parameters": [_path("id", "the job")],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/MenderJob"}, "the job"),
                        **_errors(404),
                    },
                }
            },
            "/api/v1/metadata/workflows": {
                "get": {
                    "summary": "Mender: every workflow",
                    "responses": {"200": _json({"type": "array"}, "the workflows")},
                },
                "post": {
                    "summary": "Mender: register a workflow (swamp.yaml serve.allowRegister)",
                    "security": _BEARER,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {
                        "201": {"description": "registered"},
                        **_errors(400, 401, 403, 409),
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
        },
    }
