-- SPDX-License-Identifier: LGPL-2.1-or-later
--[[
SWUpdate Lua handler "quectel-fota": installs a Quectel modem firmware
package through quectel-fotad.

SWUpdate hands the image over (checked against its sha256 in the signed
sw-description), the handler writes it to a file in SWUpdate's temporary
directory and runs `fotactl install FILE --json` (fotactl is found on PATH),
reports the job's progress with swupdate.progress_update(), and fails the
install when the job does not succeed. Image properties:
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

-- Runs fotactl; true, or false and why the job failed.
local function run_fotactl(argv)
	local quoted = {}
	for i, word in ipairs(argv) do
		quoted[i] = shell_quote(word)
	end
	local pipe = io.popen(table.concat(quoted, " ") .. " 2>&1", "r")
	if pipe == nil then
		return false, "cannot run fotactl"
	end
	local last = 0
	local why = nil
	for line in pipe:lines() do
		swupdate.trace("quectel-fota: " .. line)
		local event = json_string(line, "event")
		if event == "progress" then
			local percent = handler.step_percent(json_string(line, "state"),
				tonumber(line:match('"percent":(%d+)')) or 0)
			if percent ~= nil and percent > last then
				last = percent
				swupdate.progress_update(percent)
			end
		elseif event == "finished" or event == "error" then
			why = (json_string(line, "error") or "") .. ": " .. (json_string(line, "message") or "")
		end
	end
	local ok, _, code = pipe:close()
	if not ok then
		return false, "fotactl exited " .. tostring(code) .. (why and (" (" .. why .. ")") or "")
	end
	return true
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
	local ok, why = run_fotactl(fotactl_argv(image, file))
	os.remove(file)
	if not ok then
		swupdate.error("quectel-fota: " .. image.filename .. ": " .. why)
		return 1
	end
	swupdate.progress_update(100)
	swupdate.info("quectel-fota: " .. image.filename .. " installed")
	return 0
end

swupdate.register_handler("quectel-fota", handler.install, swupdate.HANDLER_MASK.IMAGE_HANDLER)

return handler
