-- PUT /api/song/<id> with a JSON body, the id drawn at random from 1 to SONG_COUNT.
local count = tonumber(os.getenv("SONG_COUNT"))
local headers = {["Content-Type"] = "application/json"}

request = function()
  local body = '{"artist": "Daft Punk", "title": "Aerodynamic", "rating": ' .. math.random(1, 5) .. '}'
  return wrk.format("PUT", "/api/song/" .. math.random(1, count), headers, body)
end
