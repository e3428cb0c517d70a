-- GET /api/song/<id>, the id drawn at random from 1 to SONG_COUNT.
local count = tonumber(os.getenv("SONG_COUNT"))

request = function()
  return wrk.format("GET", "/api/song/" .. math.random(1, count))
end
