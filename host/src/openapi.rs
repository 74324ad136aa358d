//! The OpenAPI description served at /openapi.json.

use serde_json::{json, Value};

pub fn spec() -> Value {
    let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let task_id = json!([{"name": "task_id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    json!({
        "openapi": "3.0.3",
        "info": {"title": "casefile", "version": env!("CARGO_PKG_VERSION")},
        "paths": {
            "/internal/debug/report": {"post": {
                "summary": "Open a diagnosis (idempotent on tenant + error_event_id)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportRequest"}}}},
                "responses": {"202": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TaskRef"}}}},
                              "200": {"description": "existing task", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TaskRef"}}}},
                              "400": err, "404": err, "413": err}}},
            "/internal/debug/report/{task_id}": {"get": {"summary": "Task state, report and ticket", "parameters": task_id,
                "responses": {"200": {"description": "the task"}, "404": err}}},
            "/internal/debug/report/{task_id}/bundle": {"get": {"summary": "The masked bundle (tar.gz)", "parameters": task_id,
                "responses": {"200": {"description": "bundle", "content": {"application/gzip": {}}}, "404": err, "409": err}}},
            "/internal/debug/report/{task_id}/markdown": {"get": {"summary": "The report as Markdown", "parameters": task_id,
                "responses": {"200": {"description": "markdown", "content": {"text/markdown": {}}}, "404": err, "409": err}}},
            "/internal/debug/report/{task_id}/regression": {"post": {"summary": "Run regression for the fix", "parameters": task_id,
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"ref": {"type": "string"}}, "additionalProperties": false}}}},
                "responses": {"202": {"description": "verifying"}, "404": err, "409": err}}},
            "/internal/debug/events": {"post": {"summary": "A plugin.debug.alert event (report request fields plus type)",
                "responses": {"202": {"description": "created"}, "200": {"description": "existing"}, "400": err, "404": err}}},
            "/internal/debug/alerts": {"post": {"summary": "Alertmanager webhook, version 4", "responses": {"202": {"description": "tasks"}, "400": err}}},
            "/internal/components": {
                "get": {"summary": "Registered components", "responses": {"200": {"description": "list"}}},
                "post": {"summary": "Upload a component", "parameters": [
                    {"name": "kind", "in": "query", "required": true, "schema": {"type": "string", "enum": ["masker", "connector", "ticket-mapper"]}},
                    {"name": "name", "in": "query", "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/wasm": {}}},
                    "responses": {"201": {"description": "stored"}, "400": err, "413": err}}},
            "/internal/audit": {"get": {"summary": "The hash-chained audit log", "responses": {"200": {"description": "entries"}}}},
            "/healthz": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text format"}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "TaskRef": {"type": "object", "required": ["task_id", "state"], "properties": {"task_id": {"type": "string"},
                "state": {"type": "string", "enum": ["queued", "collecting", "masking", "reporting", "ticketing", "awaiting_fix", "verifying", "closed", "failed"]}}},
            "ReportRequest": {"type": "object", "additionalProperties": false, "required": ["error_event_id", "tenant", "plugin"], "properties": {
                "error_event_id": {"type": "string", "minLength": 1, "maxLength": 256},
                "tenant": {"type": "string"},
                "plugin": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "version": {"type": "string"}}},
                "environments": {"type": "array", "items": {"type": "string"}},
                "window": {"type": "object", "required": ["start", "end"], "properties": {"start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}}},
                "trace_ids": {"type": "array", "items": {"type": "string"}},
                "message": {"type": "string"},
                "regression": {"type": "object", "required": ["strategy"], "properties": {"strategy": {"type": "string", "enum": ["webhook", "command", "none"]}}}}},
        }},
    })
}
