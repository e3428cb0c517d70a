-- PUT /api/song/<id> with a JSON body, the id drawn at random from 1 to SONG_COUNT.
-- Every ARTIST_EVERY-th song keeps ARTIST, so that the artist filter measured after these
-- PUTs still finds a page of ARTIST's songs at every size (bench/run.py's build_database).
local count = tonumber(os.getenv("SONG_COUNT"))
local artist_every = tonumber(os.getenv("ARTIST_EVERY"))
local artist = os.getenv("ARTIST")
local headers = {["Content-Type"] = "application/json"}

request = function()
  local id = math.random(1, count)
  local name = (id % artist_every == 0) and artist or "Daft Punk"
  local body = '{"artist": "' .. name .. '", "title": "Aerodynamic", "rating": '
    .. math.random(1, 5) .. '}'
  return wrk.format("PUT", "/api/song/" .. id, headers, body)
end
