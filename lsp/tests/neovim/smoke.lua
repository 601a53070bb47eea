-- `routec lsp` in Neovim's built-in client (0.7 and later), headless: open a
-- file of examples/multi-file, see the diagnostic of a typo, apply its quick
-- fix, format. Run by cli/tests/lsp_clients.rs:
--   ROUTEC=... ROUTEC_ROOT=... nvim --headless -u NONE -i NONE -c 'luafile smoke.lua'
-- Exits 0 on success; prints FAIL and exits 1 otherwise.

local routec = assert(os.getenv("ROUTEC"))
local root = assert(os.getenv("ROUTEC_ROOT"))

local function fail(message)
  io.stderr:write("FAIL: " .. message .. "\n")
  vim.cmd("cquit 1")
end

local function step(message)
  io.stderr:write("ok: " .. message .. "\n")
end

local ok, err = pcall(function()
  vim.cmd("edit " .. root .. "/nodes/edge-a.route")
  local buf = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    name = "routec",
    cmd = { routec, "lsp" },
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = "multi-file" } },
  })
  if not client_id then
    return fail("the client did not start")
  end
  vim.lsp.buf_attach_client(buf, client_id)
  if not vim.wait(10000, function()
    local client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized
  end, 20) then
    return fail("the server did not initialize")
  end

  -- A typo on line 2: `address` -> `adress`.
  local line = vim.api.nvim_buf_get_lines(buf, 1, 2, false)[1]
  vim.api.nvim_buf_set_lines(buf, 1, 2, false, { (line:gsub("address", "adress")) })
  -- Neovim's diagnostics, with the LSP code (kept in user_data by 0.7).
  local function lsp_diagnostics()
    local found = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      local lsp = (d.user_data and d.user_data.lsp) or {}
      table.insert(found, { code = lsp.code or d.code, message = d.message, lnum = d.lnum, col = d.col })
    end
    return found
  end
  if not vim.wait(10000, function() return #lsp_diagnostics() > 0 end, 20) then
    return fail("no diagnostic for the typo")
  end
  local diagnostic = lsp_diagnostics()[1]
  if diagnostic.code ~= "E0002" then
    return fail("expected E0002, got " .. vim.inspect(diagnostic))
  end
  step("diagnostic " .. diagnostic.code .. ": " .. diagnostic.message:gsub("\n.*", ""))

  -- Its quick fix, applied as `:lua vim.lsp.buf.code_action()` would.
  vim.api.nvim_win_set_cursor(0, { 2, 5 })
  local params = vim.lsp.util.make_range_params()
  params.context = {
    diagnostics = {
      { range = params.range, message = diagnostic.message, code = diagnostic.code, source = "routec" },
    },
  }
  local responses = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 10000) or {}
  local applied = false
  for _, response in pairs(responses) do
    for _, action in ipairs(response.result or {}) do
      if not applied and action.edit then
        vim.lsp.util.apply_workspace_edit(action.edit, "utf-16")
        applied = true
        step("applied " .. action.title)
      end
    end
  end
  if not applied then
    return fail("no quick fix: " .. vim.inspect(responses))
  end
  if vim.api.nvim_buf_get_lines(buf, 1, 2, false)[1] ~= line then
    return fail("the fix did not restore the line")
  end
  if not vim.wait(10000, function() return #lsp_diagnostics() == 0 end, 20) then
    return fail("the diagnostic stayed after the fix")
  end
  step("diagnostics cleared")

  -- Formatting: a line without its indent gets it back.
  vim.api.nvim_buf_set_lines(buf, 1, 2, false, { "address   172.31.0.10" })
  if vim.lsp.buf.format then
    vim.lsp.buf.format({ timeout_ms = 10000 })
  else
    vim.lsp.buf.formatting_sync(nil, 10000)
  end
  local formatted = vim.api.nvim_buf_get_lines(buf, 1, 2, false)[1]
  if formatted ~= "    address 172.31.0.10" then
    return fail("not formatted: " .. vim.inspect(formatted))
  end
  step("formatted")
  vim.lsp.stop_client(client_id)
  vim.wait(10000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 20)
  vim.cmd("qall!")
end)
if not ok then
  fail(tostring(err))
end
