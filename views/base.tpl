<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title if title == 'Songs' else title + ' · Songs'}}</title>
<meta name="description" content="A list of songs, each with its artist, title and rating: find them by search, rating or artist, and add, edit or delete them.">
<link rel="stylesheet" href="{{static['songs.css']}}">
<link rel="icon" href="{{static['favicon.svg']}}" type="image/svg+xml">
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="site">
  <a class="home" href="/">Songs</a>
  <nav aria-label="Site">
    <a href="/songs/new">Add a song</a>
    <a href="/songs/deleted">Recently deleted</a>
    <a href="/api">API</a>
% if needs_sign_in and signed_in:
    <form method="post" action="/sign-out" class="inline">
      <input type="hidden" name="csrf_token" value="{{csrf()}}">
      <button type="submit" class="link">Sign out</button>
      <button type="submit" class="link" name="everywhere" value="1">Sign out everywhere</button>
    </form>
% elif needs_sign_in:
    <a href="/sign-in">Sign in</a>
% end
  </nav>
</header>
<main id="main">
% if flash:
<p class="flash" role="status">{{flash[0]}}</p>
% if flash[1]:
<form method="post" action="/songs/{{flash[1]}}/restore" class="inline">
  <input type="hidden" name="csrf_token" value="{{csrf()}}">
  <button type="submit">Undo the delete</button>
</form>
% end
% end
{{!base}}
</main>
</body>
</html>
