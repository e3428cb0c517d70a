-- POST /api/songs, then DELETE /api/song/<id> of a song it made: pairs, so that the table
-- keeps its size however long the run. Each thread keeps the ids its POSTs answered with.
local made = {}
local headers = {["Content-Type"] = "application/json"}
local body = '{"artist": "Gregori Klosman", "title": "Jaws", "rating": 3}'

request = function()
  local id = table.remove(made)
  if id then
    return wrk.format("DELETE", "/api/song/" .. id)
  end
  return wrk.format("POST", "/api/songs", headers, body)
end

response = function(status, headers, body)
  local id = body and body:match('^{"id": *(%d+)')
  if id then
    table.insert(made, id)
  end
end
