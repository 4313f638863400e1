-- SPDX-License-Identifier: LGPL-2.1-or-later
-- SWUpdate loads this module (require "swupdate_handlers") once at start;
-- each line registers the handlers of one module. A system that has its own
-- swupdate_handlers.lua adds the line below to it instead (meson option
-- -Dswupdate-handlers-entry=false).
require("quectel_fota_handler")
