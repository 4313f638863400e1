-- SPDX-License-Identifier: LGPL-2.1-or-later
--[[
SWUpdate Lua handler "quectel-fota": installs a Quectel modem firmware
package through quectel-fotad.

SWUpdate hands the image over (checked against its sha256 in the signed
sw-description), the handler writes it to a file in SWUpdate's temporary
directory and runs `fotactl install FILE --json` (fotactl is found on PATH),
reports the job's progress with swupdate.progress_update(), and fails the
install when the job does not succeed. Under SWUpdate's suricatta, when
quectel-fota-hawkbit names the hawkBit action being installed, it also
reports the modem's progress to the action and closes it with the verdict
(quectel-fota-hawkbit feedback). Image properties:
  expect-revision  the revision the modem must run afterwards; also makes a
                   retry on an already upgraded modem a success
                   (fotactl --skip-if-current)
See quectel-fota-fleet(7) and sw-description.example.
--]]

local swupdate = require("swupdate")

local handler = {}

-- The step's percent for one progress event of fotactl: the package
-- reaching the modem is the first half, the modem writing it the next
-- 45 points, the reboots and the check the rest.
function handler.step_percent(state, percent)
	if state == "downloading" then
		return math.floor(percent / 2)
	elseif state == "updating" then
		return 50 + math.floor(percent * 45 / 100)
	elseif state == "rebooting" or state == "verifying" then
		return nil -- keep the last figure: reboots come before and after updating
	end
	return 0
end

local function json_string(line, key)
	return line:match('"' .. key .. '":"([^"\\]*)"')
end

local function shell_quote(word)
	return "'" .. word:gsub("'", "'\\''") .. "'"
end

local function fotactl_argv(image, file)
	local argv = { "fotactl", "install", file, "--json" }
	local props = image.properties or {}
	local expect = props["expect-revision"]
	if expect ~= nil and expect ~= "" then
		table.insert(argv, "--expect-revision")
		table.insert(argv, expect)
		table.insert(argv, "--skip-if-current")
	end
	-- SWUpdate's sha256 is that of the image as stored in the .swu: the
	-- package's own only when it is neither compressed nor encrypted.
	local sha = image.sha256
	if sha and sha:match("^%x+$") and not sha:match("^0+$")
		and not image.compressed and not image.encrypted then
		table.insert(argv, "--sha256")
		table.insert(argv, sha)
	end
	return argv
end

-- How long the handler waits for quectel-fota-hawkbit watch to name the
-- install's source: it learns it from the same progress message that
-- started this install, so it is late only when the host is very busy.
local WATCH_WAIT_TENTHS = 300

-- The hawkBit action suricatta is installing, as quectel-fota-hawkbit
-- recorded it; nil outside suricatta or without that watcher. When the
-- watcher runs (ACTION.watch), it waits for its word on this install rather
-- than racing it: a late id would cost the first progress feedback.
function handler.hawkbit_action(path, wait_tenths)
	path = path or os.getenv("QUECTEL_FOTA_HAWKBIT_ACTION") or "/run/quectel-fota-hawkbit/action"
	wait_tenths = wait_tenths or WATCH_WAIT_TENTHS
	-- A watcher killed without its cleanup leaves its pid behind: a dead
	-- pid is no watcher to wait for.
	local watching = io.open(path .. ".watch", "r")
	if watching == nil then
		return nil
	end
	local pid = watching:read("l")
	watching:close()
	local alive = pid and pid:match("^%d+$") and io.open("/proc/" .. pid .. "/stat", "r")
	if not alive then
		return nil
	end
	alive:close()
	for _ = 0, wait_tenths do
		local f = io.open(path, "r")
		if f ~= nil then
			local id = f:read("l")
			f:close()
			-- "-": an install from another source
			return id and id:match("^%d+$")
		end
		os.execute("sleep 0.1")
	end
	swupdate.warn("quectel-fota: quectel-fota-hawkbit watch named no install: no hawkBit feedback")
	return nil
end

-- The command that sends one feedback for the action: a DDI request of
-- quectel-fota-hawkbit's own (not swupdate-ipc sendtohawkbit, which
-- suricatta serves with the connection it is downloading the .swu on).
function handler.feedback_argv(action, finished, execution, details)
	local argv = { "quectel-fota-hawkbit", "feedback", action, finished, execution }
	for _, detail in ipairs(details) do
		table.insert(argv, detail)
	end
	return argv
end

local function command_line(argv)
	local quoted = {}
	for i, word in ipairs(argv) do
		quoted[i] = shell_quote(word)
	end
	return table.concat(quoted, " ")
end

-- A function sending feedback to the action (nil: none to send to).
-- quectel-fota-hawkbit answers once the server has the feedback, so the
-- close reaches hawkBit before suricatta's own report of the install (which
-- hawkBit then refuses).
local function feedback_sender(action)
	if action == nil then
		return function() end
	end
	return function(finished, execution, details)
		local ok = os.execute(command_line(handler.feedback_argv(action, finished, execution, details)) .. " 2>&1")
		if not ok then
			swupdate.warn("quectel-fota: cannot send the " .. execution .. " feedback of hawkBit action " .. action)
		end
	end
end

-- Runs fotactl, calling on_progress(state, step percent) when the figure
-- rises: from the job fotactl follows, then from each progress event (the
-- signals before fotactl follows are folded into the job's figure). Returns
-- true, or false, why the job failed and the daemon's verdict
-- ("ERROR-NAME: message", nil when fotactl printed none).
local function run_fotactl(argv, on_progress)
	local pipe = io.popen(command_line(argv) .. " 2>&1", "r")
	if pipe == nil then
		return false, "cannot run fotactl"
	end
	local last = 0
	local verdict = nil
	for line in pipe:lines() do
		swupdate.trace("quectel-fota: " .. line)
		local event = json_string(line, "event")
		if event == "progress" or event == "job" then
			local state = json_string(line, "state")
			local percent = handler.step_percent(state, tonumber(line:match('"percent":(%d+)')) or 0)
			if percent ~= nil and percent > last then
				last = percent
				swupdate.progress_update(percent)
				on_progress(state, percent)
			end
		elseif event == "finished" or event == "error" then
			verdict = (json_string(line, "error") or "") .. ": " .. (json_string(line, "message") or "")
		end
	end
	local ok, _, code = pipe:close()
	if not ok then
		return false, "fotactl exited " .. tostring(code) .. (verdict and (" (" .. verdict .. ")") or ""), verdict
	end
	return true
end

-- Reports the modem's progress to the action every ten points.
local function progress_reporter(send_feedback)
	local reported = -1
	return function(state, percent)
		if percent // 10 > reported then
			reported = percent // 10
			send_feedback("none", "proceeding",
				{ string.format("quectel-fota: %s, %d%%", state, percent) })
		end
	end
end

function handler.install(image)
	local dir = swupdate.tmpdir()
	if dir:sub(-1) ~= "/" then
		dir = dir .. "/"
	end
	local file = dir .. "quectel-fota-" .. (image.filename or "package"):gsub("[^%w._-]", "_")
	local err, msg = image:copy2file(file)
	if err ~= 0 then
		os.remove(file)
		swupdate.error("quectel-fota: cannot write " .. file .. ": " .. tostring(msg))
		return 1
	end
	local send_feedback = feedback_sender(handler.hawkbit_action())
	local ok, why, verdict = run_fotactl(fotactl_argv(image, file), progress_reporter(send_feedback))
	os.remove(file)
	if not ok then
		local message = "quectel-fota: " .. image.filename .. ": " .. why
		swupdate.error(message)
		send_feedback("failure", "closed", { verdict or why, message })
		return 1
	end
	swupdate.progress_update(100)
	swupdate.info("quectel-fota: " .. image.filename .. " installed")
	send_feedback("success", "closed", { "quectel-fota: " .. image.filename .. " installed" })
	return 0
end

swupdate.register_handler("quectel-fota", handler.install, swupdate.HANDLER_MASK.IMAGE_HANDLER)

return handler
