# SPDX-License-Identifier: LGPL-2.1-or-later
"""A test-only hawkBit server: the Direct Device Integration (DDI) API v1 resources that
SWUpdate's suricatta uses, over plain HTTP, and a record of every request.

Checked against hawkBit's DDI API documentation (eclipse.dev/hawkbit/apis/ddi_api, the
DDI v1 OpenAPI description) and against what suricatta of SWUpdate 2022.12 (Debian 12)
sends and expects (suricatta/server_hawkbit.c and test/test_server_hawkbit.c of that tag):

  GET  /{tenant}/controller/v1/{id}          the poll: config.polling.sleep ("HH:MM:SS"),
                                             _links.deploymentBase while an action is open,
                                             _links.configData while the target's attributes
                                             are wanted (first contact, after a successful
                                             action, or when the test asks again)
  GET  .../deploymentBase/{action}[?c=...]   id (a string, as hawkBit sends it),
                                             deployment.download/update ("forced"),
                                             chunks[].part/version/name/artifacts[] with
                                             filename, size, hashes.sha1/md5/sha256 and
                                             _links.download/download-http (suricatta takes
                                             "download" when both are there; both are
                                             http:// here, hawkBit's "download" is https)
  GET  .../softwaremodules/{sm}/artifacts/{filename}   the artifact, whole (no Range)
  POST .../deploymentBase/{action}/feedback  status.execution (closed, proceeding, canceled,
                                             scheduled, rejected, resumed, download,
                                             downloaded), status.result.finished (success,
                                             failure, none), status.details[]: 200; an
                                             invalid value 400; an unknown action 404; an
                                             action already closed 410 (hawkBit's answer
                                             to feedback on an inactive action)
  PUT  .../configData                        data{} merged into the target's attributes
                                             (mode merge/replace/remove): 200

suricatta 2022.12 sends the action id of a feedback as a number, a "time" of the form
YYYYMMDDTHHMMSS and, in a feedback, result.progress {cnt, of}; its configData carries
"id": "" and a status block besides "data". Not served: cancelAction, installedBase,
confirmationBase, Range requests, HTTPS, tokens (an Authorization header is recorded).
"""

import hashlib
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse

EXECUTIONS = ('closed', 'proceeding', 'canceled', 'scheduled', 'rejected', 'resumed',
              'download', 'downloaded')
FINISHED = ('success', 'failure', 'none')


class Action:
    """One deployment action: a distribution set of one software module."""

    def __init__(self, action_id, artifacts, name, version):
        self.id = action_id
        self.artifacts = artifacts          # [(filename, path)]
        self.name = name
        self.version = version
        self.open = True
        self.feedback = []                  # status blocks, in arrival order


class DdiServer:
    """The server on 127.0.0.1 in a thread; every request also goes to `log_path` as a
    JSON line: {"time", "method", "path", "status", "authorization", "body",
    "reply" (the JSON answered, else null)}."""

    def __init__(self, log_path, tenant='DEFAULT', controller='gateway-1', sleep='00:00:01'):
        self.tenant, self.controller, self.sleep = tenant, controller, sleep
        self.log_path = log_path
        self.lock = threading.Lock()
        self.actions = {}
        self.next_action = 1
        self.attributes = {}
        self.wants_attributes = True
        self.records = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_GET(self):
                server._handle(self, 'GET')

            def do_POST(self):
                server._handle(self, 'POST')

            def do_PUT(self):
                server._handle(self, 'PUT')

            def log_message(self, fmt, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what a test does on the management side
    def assign(self, artifacts, name='quectel-modem', version='1.0'):
        """Opens an action for the target with these (filename, path) artifacts; its id."""
        with self.lock:
            action = Action(self.next_action, list(artifacts), name, version)
            self.actions[action.id] = action
            self.next_action += 1
            return action.id

    def request_attributes(self):
        with self.lock:
            self.wants_attributes = True

    def feedback(self, action_id):
        with self.lock:
            return list(self.actions[action_id].feedback)

    def closed(self, action_id):
        """The status block that closed the action, or None."""
        return next((f for f in self.feedback(action_id) if f['execution'] == 'closed'), None)

    def requests(self, method=None, pattern=None):
        with self.lock:
            return [r for r in self.records
                    if (method is None or r['method'] == method)
                    and (pattern is None or re.search(pattern, r['path']))]

    # -- the DDI resources
    def _base(self):
        return f'/{self.tenant}/controller/v1/{self.controller}'

    def _open_action(self):
        return next((a for a in self.actions.values() if a.open), None)

    def _handle(self, req, method):
        length = int(req.headers.get('Content-Length') or 0)
        raw = req.rfile.read(length) if length else b''
        path = urllib.parse.urlsplit(req.path).path
        with self.lock:
            status, body, ctype = self._route(method, path, raw)
            record = {'time': time.time(), 'method': method, 'path': req.path, 'status': status,
                      'authorization': req.headers.get('Authorization'),
                      'body': raw.decode(errors='replace'),
                      'reply': body.decode() if ctype == 'application/hal+json' else None}
            self.records.append(record)
            with open(self.log_path, 'a') as log:
                log.write(json.dumps(record) + '\n')
        req.send_response(status)
        req.send_header('Content-Type', ctype)
        req.send_header('Content-Length', str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def _route(self, method, path, raw):
        base = self._base()
        if not path.startswith(base):
            return 404, b'', 'text/plain'
        rest = path[len(base):]
        routes = (
            ('GET', r'', self._poll),
            ('GET', r'/deploymentBase/(\d+)', self._deployment),
            ('POST', r'/deploymentBase/(\d+)/feedback', self._feedback),
            ('PUT', r'/configData', self._config_data),
            ('GET', r'/softwaremodules/(\d+)/artifacts/([^/]+)', self._artifact),
        )
        for verb, pattern, func in routes:
            m = re.fullmatch(pattern, rest)
            if m and verb == method:
                return func(raw, *m.groups())
        return (405 if any(re.fullmatch(p, rest) for _, p, _ in routes) else 404), b'', 'text/plain'

    @staticmethod
    def _json(status, obj):
        return status, json.dumps(obj).encode(), 'application/hal+json'

    def _poll(self, raw):
        links = {}
        action = self._open_action()
        if action:
            links['deploymentBase'] = {
                'href': f'{self.url}{self._base()}/deploymentBase/{action.id}?c=-{action.id}'}
        if self.wants_attributes:
            links['configData'] = {'href': f'{self.url}{self._base()}/configData'}
        return self._json(200, {'config': {'polling': {'sleep': self.sleep}}, '_links': links})

    def _deployment(self, raw, action_id):
        action = self.actions.get(int(action_id))
        if action is None:
            return 404, b'', 'text/plain'
        artifacts = []
        for filename, path in action.artifacts:
            with open(path, 'rb') as f:
                data = f.read()
            href = f'{self.url}{self._base()}/softwaremodules/{action.id}/artifacts/{filename}'
            artifacts.append({
                'filename': filename, 'size': len(data),
                'hashes': {'sha1': hashlib.sha1(data).hexdigest(),
                           'md5': hashlib.md5(data).hexdigest(),
                           'sha256': hashlib.sha256(data).hexdigest()},
                '_links': {'download': {'href': href}, 'download-http': {'href': href},
                           'md5sum': {'href': href + '.MD5SUM'},
                           'md5sum-http': {'href': href + '.MD5SUM'}}})
        return self._json(200, {
            'id': str(action.id),
            'deployment': {'download': 'forced', 'update': 'forced', 'chunks': [
                {'part': 'os', 'version': action.version, 'name': action.name,
                 'artifacts': artifacts}]},
            'actionHistory': {'status': 'RUNNING' if action.open else 'FINISHED',
                              'messages': []}})

    def _artifact(self, raw, module_id, filename):
        action = self.actions.get(int(module_id))
        for name, path in action.artifacts if action else ():
            if name == filename:
                with open(path, 'rb') as f:
                    return 200, f.read(), 'application/octet-stream'
        return 404, b'', 'text/plain'

    def _feedback(self, raw, action_id):
        action = self.actions.get(int(action_id))
        if action is None:
            return 404, b'', 'text/plain'
        try:
            status = json.loads(raw)['status']
            execution = status['execution']
            finished = status['result']['finished']
        except (ValueError, KeyError, TypeError):
            return 400, b'', 'text/plain'
        if execution not in EXECUTIONS or finished not in FINISHED:
            return 400, b'', 'text/plain'
        if not action.open:
            return 410, b'', 'text/plain'
        action.feedback.append({'execution': execution, 'finished': finished,
                                'details': list(status.get('details') or []),
                                'progress': status['result'].get('progress'),
                                'time': time.time()})
        if execution == 'closed':
            action.open = False
            if finished == 'success':
                self.wants_attributes = True
        return 200, b'', 'text/plain'

    def _config_data(self, raw):
        try:
            body = json.loads(raw)
            data = body['data']
        except (ValueError, KeyError, TypeError):
            return 400, b'', 'text/plain'
        mode = body.get('mode', 'merge')
        if mode == 'replace':
            self.attributes = dict(data)
        elif mode == 'remove':
            for key in data:
                self.attributes.pop(key, None)
        else:
            self.attributes.update(data)
        self.wants_attributes = False
        return 200, b'', 'text/plain'


def main():
    """Standalone: hawkbit_ddi.py LOG SWU... serves one action with these artifacts."""
    server = DdiServer(sys.argv[1])
    server.assign((os.path.basename(p), p) for p in sys.argv[2:])
    print(server.url, flush=True)
    server.thread.join()


if __name__ == '__main__':
    main()
